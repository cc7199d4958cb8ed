"""Training the contextual backend's heads (`make heads`); Parley itself never trains."""
