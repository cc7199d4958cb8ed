"""The Textual TUI. Only this subpackage imports textual."""
