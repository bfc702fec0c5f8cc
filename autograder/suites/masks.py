"""Expected gradients through random dropout masks, computed in the grading process.

The reference's own gradients cannot be compared where the mask comes from
the student's random draws; these functions rebuild the expected gradient
from the mask the student's forward produced (the units it zeroed), so that
a "numeric" check still needs a reference match, not only self-consistency.
Each returns ``expect(outputs, inputs, reference)`` for ``Check.expect``.
"""
import numpy as np


def inverted_dropout_gradient(out_name, keep_prob):
    """dx = dout * mask / keep_prob, the mask being the units the forward output ``out_name`` kept."""
    def expect(outputs, inputs, reference):
        kept = outputs[out_name] != 0
        return inputs["dout"] * kept / keep_prob
    return expect


def dropout_net_gradient(name, hidden_layers, keep_prob, mask_prefix="mask"):
    """The gradient ``name`` of the loss of an {affine - relu - dropout} x L - affine - softmax net.

    The net's parameters are the inputs ``W1, b1, ...``; the mask of hidden
    layer l is where the output ``<mask_prefix><l>`` (the student's dropout
    forward on ones, with the net's seed) is nonzero. No regularization.
    """
    def expect(outputs, inputs, reference):
        layers = reference.module("layers")
        last = hidden_layers + 1
        hidden = inputs["X"].reshape(len(inputs["X"]), -1)
        caches = []
        for layer in range(1, last):
            affine, affine_cache = layers.affine_forward(hidden, inputs[f"W{layer}"], inputs[f"b{layer}"])
            activated, relu_cache = layers.relu_forward(affine)
            keep = (outputs[f"{mask_prefix}{layer}"] != 0) / keep_prob
            hidden = activated * keep
            caches.append((affine_cache, relu_cache, keep))
        scores, scores_cache = layers.affine_forward(hidden, inputs[f"W{last}"], inputs[f"b{last}"])
        _, dscores = layers.softmax_loss(scores, inputs["y"])
        grads = {}
        dhidden, grads[f"W{last}"], grads[f"b{last}"] = layers.affine_backward(dscores, scores_cache)
        for layer in range(last - 1, 0, -1):
            affine_cache, relu_cache, keep = caches[layer - 1]
            daffine = layers.relu_backward(dhidden * keep, relu_cache)
            dhidden, grads[f"W{layer}"], grads[f"b{layer}"] = layers.affine_backward(daffine, affine_cache)
        return grads[name]
    return expect
