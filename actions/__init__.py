"""Actions the assistant may ask for: saving a note, files in the workspace, exporting the
conversation, and the user's own programs. Each runs only once a person approves it (the turn
pipeline asks); nothing here imports the UI, llama.cpp or the moderation layer."""
