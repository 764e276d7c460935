"""Bayesian Persuasion Alignment end to end, one module per phase (``docs/method.md`` has the maths):

1. :mod:`llm.bpa.feedback`: the training Receiver's success rate on each training problem with each item's
   information (``k`` sampled answers per cell), ``none`` included;
2. :mod:`llm.bpa.game`: the problem's state is the item that helps; the empirical game and the Advisor's scheme;
3. :mod:`llm.bpa.training`: the Advisor's state model (:mod:`llm.bpa.state`) and its signal writer, trained from
   counterfactual credit (success with a signal minus success without);
4. :mod:`llm.bpa.evaluation`: the paper's conditions (``baseline``, ``prior``, ``posterior``, ``signal``) and the
   analysis conditions (``random``, ``oracle``), on the test split; :mod:`llm.bpa.methods` runs the decoupled
   methods of :mod:`llm.methods` beside them;
5. :mod:`llm.bpa.report`: summaries with intervals, paired tests and minimum detectable effects; plots.

:func:`llm.bpa.pipeline.run` drives them; :mod:`llm.bpa.config` holds the run's settings and :mod:`llm.bpa.context`
what every phase shares. Import names from their phase's module (``from llm.bpa.pipeline import run``): importing
the package imports no phase.
"""
