"""The persuasion game on language models, apart from any model or task: the information items (states,
:mod:`llm.game.catalogue`), the Receiver's beliefs measured from its log-probabilities (:mod:`llm.game.beliefs`),
the Advisor's signals (:mod:`llm.game.signals`), the finite game estimated from feedback (:mod:`llm.game.empirical`)
and every prompt template (:mod:`llm.game.prompts`)."""
