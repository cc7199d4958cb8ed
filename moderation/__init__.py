"""The safety layer: the moderation filter (Detoxify or an offline classifier, streamed so nothing
unmoderated is shown), and the action-confirmation guard (actions run only once the user approves;
claims of actions that did not run are flagged). Nothing here imports the UI or llama.cpp."""
