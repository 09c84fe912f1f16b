"""Your model out: ``retrain`` (``nasforge.train``: a run's best architecture trained from
scratch), ``io`` (``model.pt`` / ``model.ts`` with the task's preprocessing and class names;
``nasforge.load`` -> a ``Predictor``) and ``onnx`` (``model.onnx``, checked against PyTorch).

Nothing is imported here: ``import nasforge.model.io`` does not load the training code."""
