"""Plain-text tables for the benchmark scripts: first column left-aligned, the rest right."""


def format_table(cells: list) -> str:
    """Rows of strings (the first is the header) as aligned text, with a rule under the header."""
    widths = [max(len(row[i]) for row in cells) for i in range(len(cells[0]))]
    lines = ["  ".join(c.ljust(w) if i == 0 else c.rjust(w)
                       for i, (c, w) in enumerate(zip(row, widths))) for row in cells]
    lines.insert(1, "-" * len(lines[0]))
    return "\n".join(lines)
