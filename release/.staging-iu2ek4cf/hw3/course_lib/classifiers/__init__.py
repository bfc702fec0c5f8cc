"""Networks of the functional API: each holds its arrays in ``params`` and computes ``loss(X, y=None)``.

- ``neural_net.TwoLayerNet``: self-contained two-layer net (weights stored (out, in)).
- ``fc_net.TwoLayerNet``, ``fc_net.FullyConnectedNet``: built from ``course_lib.layers``.
- ``cnn.ThreeLayerConvNet``: conv - relu - pool - affine - relu - affine.
"""
