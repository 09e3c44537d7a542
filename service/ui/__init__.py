"""The dashboard's rendering: try-it forms from input schemas, and the page templates."""
