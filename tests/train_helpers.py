"""What the resume tests of every job share (``from tests.train_helpers import Interrupt``)."""

from seqlab.train import Callback


class Interrupt(Callback):
    """Raise KeyboardInterrupt right after optimizer step ``at`` (counted from 0), as Ctrl-C would."""

    def __init__(self, at: int) -> None:
        self.at = at

    def on_train_batch_end(self, step, logs=None):
        if step == self.at:
            raise KeyboardInterrupt
