"""Running trials: attempts, supervision (restart/crash loop/OOM) and metric selection.

Not a stage: ``train`` and ``tune`` both use the ``TrialRunner`` given to them by the pipeline,
and ``monitor`` reports on what it supervised.
"""
