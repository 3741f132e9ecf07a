"""Report: tables, figures and the prefix probe widget (presentation only)."""
