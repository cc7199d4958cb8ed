"""The one error of the actions package."""


class ActionError(Exception):
    """A request that cannot run: unknown action, bad arguments, a path outside the workspace.
    Its message is for the user (and the model): one line, saying what is wrong."""
