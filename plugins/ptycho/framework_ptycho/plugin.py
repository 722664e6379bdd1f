"""Hook implementations (cheap to import: specs and paths only)."""
