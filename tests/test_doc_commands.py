"""Every `gpufin` command line shown in README.md and docs/*.md runs and exits as documented.

A command is a line of a fenced block marked `bash`, `sh`, `shell`, `console` or unmarked that
starts with `gpufin ` (after a `$ ` prompt, if the block uses prompts), joined with its `\\`
continuation lines. A trailing `# comment` is dropped; `# exits N` in it gives the documented
exit status (0 otherwise), and an `error: ...` line printed under the command in the docs must
be the first line of its stderr. Whatever follows a `|` or a redirection is not run.

Each command runs through click's CliRunner in a fresh temporary folder that links `data` and
`docs` to the repository's, so relative input paths resolve as in a checkout and outputs
(`--out`, `--plot`) land in the temporary folder. Runs are kept small: `--paths 2000` is set
on every command that has the option, and `--n-scenarios` is at most 20. An input file that
a page builds with a Python block (docs/collateral.md's `synthetic.csv`) is made by running
that block first. A command whose subcommand cli.py does not register is skipped.

The last test checks that no file of the repository cites the outside fact sheet.
"""
from __future__ import annotations

import re
import shlex
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from cli import main

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
SHELL_BLOCKS = {"", "bash", "sh", "shell", "console"}
FENCE = re.compile(r"^(`{3,}|~{3,})\s*([\w+-]*)")
EXITS = re.compile(r"#\s*exits\s+(\d+)")
SMALL_PATHS = "2000"
MAX_VAR_SCENARIOS = 20
OUTPUT_OPTIONS = {"--out", "--plot", "--checkpoint"}
INPUT_SUFFIXES = {".csv", ".toml", ".json", ".parquet"}
SHELL_STOPS = {"|", "||", "&&", ";", ">", ">>", "2>", "2>&1", "&"}


def _blocks(page: Path):
    """(language, [(line number, text)]) of every fenced block of a page."""
    block, lang, fence = None, "", ""
    for number, line in enumerate(page.read_text().splitlines(), start=1):
        m = FENCE.match(line.strip()) if block is not None or line.lstrip() == line else None
        if block is None and m:
            block, lang, fence = [], m.group(2).lower(), m.group(1)
        elif block is not None and m and line.strip().startswith(fence) and not m.group(2):
            yield lang, block
            block = None
        elif block is not None:
            block.append((number, line))


def _commands(page: Path):
    """(line number, command text, exit status, expected error line) of a page."""
    for lang, lines in _blocks(page):
        if lang not in SHELL_BLOCKS:
            continue
        prompted = any(text.startswith("$ ") for _, text in lines)
        i = 0
        while i < len(lines):
            number, text = lines[i]
            i += 1
            if prompted:
                if not text.startswith("$ "):
                    continue
                text = text[2:]
            while text.rstrip().endswith("\\") and i < len(lines):
                text = text.rstrip()[:-1] + " " + lines[i][1].strip()
                i += 1
            if not text.startswith("gpufin "):
                continue
            exits = EXITS.search(text)
            error = lines[i][1] if prompted and i < len(lines) and lines[i][1].startswith("error:") else None
            yield number, text, int(exits.group(1)) if exits else 0, error


def _python_blocks():
    """(page, first line, code) of every Python block of the docs."""
    for page in PAGES:
        for lang, lines in _blocks(page):
            if lang == "python" and lines:
                yield page, lines[0][0], "\n".join(text for _, text in lines)


def _cases():
    for page in PAGES:
        for number, text, status, error in _commands(page):
            yield pytest.param(page, number, text, status, error,
                               id=f"{page.relative_to(ROOT)}:{number}")


CASES = list(_cases())


def _resolve(args: list[str]):
    """The click command that `args` names, or None with the unknown name."""
    command, name = main, "gpufin"
    for arg in args:
        if not isinstance(command, click.Group) or arg.startswith("-"):
            break
        name = f"{name} {arg}"
        command = command.commands.get(arg)
        if command is None:
            return None, name
    return command, name


def _set_option(args: list[str], option: str, value: str, keep_smaller: bool = False) -> list[str]:
    """`args` with `option value` set: an existing value replaced (or kept if smaller)."""
    out, seen = [], False
    i = 0
    while i < len(args):
        arg = args[i]
        if arg == option and i + 1 < len(args):
            given, i = args[i + 1], i + 2
        elif arg.startswith(option + "="):
            given, i = arg.split("=", 1)[1], i + 1
        else:
            out.append(arg)
            i += 1
            continue
        seen = True
        small = given if keep_smaller and given.isdigit() and int(given) <= int(value) else value
        out += [option, small]
    return out if seen else out + [option, value]


def _small(args: list[str], command: click.Command) -> list[str]:
    """The command at a small size: --paths 2000, at most 20 VaR scenarios."""
    names = {p.name for p in command.params}
    if "paths" in names:
        args = _set_option(args, "--paths", SMALL_PATHS)
    if "n_scenarios" in names:
        args = _set_option(args, "--n-scenarios", str(MAX_VAR_SCENARIOS), keep_smaller=True)
    return args


def _inputs(args: list[str]) -> list[str]:
    """Arguments that name an input file: a file suffix, not the value of an output option."""
    return [a for prev, a in zip([""] + args, args)
            if not a.startswith("-") and prev not in OUTPUT_OPTIONS and Path(a).suffix in INPUT_SUFFIXES]


def _prepare_inputs(args: list[str], page: Path, number: int) -> None:
    """Run the Python block that writes a missing input: on the same page above the command
    first, then on any page."""
    blocks = sorted(_python_blocks(), key=lambda b: (b[0] != page or b[1] > number, b[1]))
    for name in _inputs(args):
        if Path(name).exists():
            continue
        for _, _, code in blocks:
            if f'"{name}"' in code or f"'{name}'" in code:
                exec(compile(code, f"<block writing {name}>", "exec"), {})
                break


@pytest.mark.parametrize("page, number, text, status, error", CASES)
def test_doc_command(page, number, text, status, error, tmp_path, monkeypatch):
    tokens = shlex.split(text, comments=True)
    stop = next((k for k, t in enumerate(tokens) if t in SHELL_STOPS), len(tokens))
    args = tokens[1:stop]
    command, name = _resolve(args)
    if command is None:
        pytest.skip(f"`{name}` is not a command of cli.py")
    for folder in ("data", "docs"):
        (tmp_path / folder).symlink_to(ROOT / folder, target_is_directory=True)
    monkeypatch.chdir(tmp_path)
    _prepare_inputs(args, page, number)
    args = _small(args, command)
    result = CliRunner().invoke(main, args)
    where = f"{page.relative_to(ROOT)}:{number}: gpufin {shlex.join(args)}"
    assert result.exit_code == status, (
        f"{where}\nexit status {result.exit_code}, documented {status}\n"
        f"stderr: {result.stderr[-2000:]}\nexception: {result.exception!r}")
    if error is not None:
        first = result.stderr.strip().splitlines()[0] if result.stderr.strip() else ""
        assert first == error, f"{where}\nprinted: {first}\ndocumented: {error}"


def test_commands_found():
    """The extraction sees the documented commands (a broken fence would hide them)."""
    pages = {page.name for page, *_ in (case.values for case in CASES)}
    assert {"README.md", "collateral.md", "loans.md", "portfolio.md"} <= pages
    assert len(CASES) >= 25


SKIP_DIRS = {".git", ".venv", "__pycache__", ".pytest_cache", ".ruff_cache"}
FACT_SHEET = re.compile(rb"FACTS\.md|\bFACTS \d")


def _repo_files():
    stack = [ROOT]
    while stack:
        folder = stack.pop()
        for path in folder.iterdir():
            if path.is_symlink():
                continue
            if path.is_dir():
                if path.name not in SKIP_DIRS:
                    stack.append(path)
            elif path.is_file():
                yield path


def test_no_file_cites_the_outside_fact_sheet():
    """Sources are cited from data/SOURCES.md, which is in the repository."""
    offenders = [str(path.relative_to(ROOT)) for path in _repo_files()
                 if FACT_SHEET.search(path.read_bytes())]
    assert offenders == []
