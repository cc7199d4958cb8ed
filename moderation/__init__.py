"""The safety layer: the moderation filter (by default a contextual classifier over a sentence
encoder that llama.cpp runs; Detoxify when its weights are present; a word model as the last
resort), streamed so that nothing unmoderated is shown, and the detector of claims of actions
that no action backs. Nothing here imports the UI."""
