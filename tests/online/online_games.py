"""Constants and games shared by the online tests (imported by bare name, like tests/llm/fake_lm.py).

Sizes are fixed (16 seeds, chunks of 100 rounds, 2e4 rounds) so that every module hits the same compiled code.
"""

from persuasion.game import Game

SEEDS = 16
HORIZON = 20_000
CHUNK = 100
DELTA = 0.05


def prosecutor() -> Game:
    """Built inline (not from persuasion.examples) so the statistical margins never move."""
    return Game([0.7, 0.3], [[0.0, 1.0], [0.0, 1.0]], [[1.0, 0.0], [0.0, 1.0]], name="prosecutor")


def two_judges() -> Game:
    """A judge of unknown type: thresholds 0.5 and 0.7 on P(guilty), types drawn with lam = (0.6, 0.4)."""
    return Game(
        [0.7, 0.3],
        [[0.0, 1.0], [0.0, 1.0]],
        [[[0.5, 0.0], [0.0, 0.5]], [[0.7, 0.0], [0.0, 0.3]]],
        type_prior=[0.6, 0.4],
        name="two_judges",
    )
