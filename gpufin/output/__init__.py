"""What users get back: files written atomically and plots."""
