"""Deal reports: a loan's terms, inputs and their sources, value and credit risk, charts,
stress and sensitivity, as one self-contained HTML page or a PDF."""
