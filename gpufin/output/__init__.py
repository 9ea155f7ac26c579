"""What users get back: tables with units, workbooks, files written atomically and plots."""
