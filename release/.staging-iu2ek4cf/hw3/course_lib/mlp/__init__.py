"""The object API of the course (USC CSCI 566 style): layers as objects.

- ``course_lib.mlp.layers``: ``flatten``, ``fc``, ``leaky_relu``, ``dropout``,
  ``cross_entropy``, ``softmax`` and the ``sequential`` container;
- ``course_lib.mlp.nets``: ``TestFCReLU``, ``SmallFullyConnectedNetwork``,
  ``DropoutNet``, ``TinyNet``;
- ``course_lib.mlp.optim``: ``SGD``, ``SGDM``, ``RMSProp``, ``Adam``;
- ``course_lib.mlp.train``: ``train_net`` and ``compute_acc``.

Import the submodules explicitly (``from course_lib.mlp.layers import fc``).
"""
