"""Expected gradients through random dropout masks, and rules on the masks, computed in the grading process.

The reference's own gradients cannot be compared where the mask comes from
the student's random draws; these functions rebuild the expected gradient
from the mask the student's forward produced (the units it zeroed), so that
a "numeric" check still needs a reference match, not only self-consistency.
Each returns ``expect(outputs, inputs, reference)`` for ``Check.expect``,
which raises a ValueError (the message is feedback) when the student's
forward is no dropout at all.
"""
import numpy as np


# A mask of n units keeps keep_prob * n of them, give or take this fraction (several standard deviations
# for the small arrays of the gradient tests).
KEPT_SPREAD = 0.15


def kept_units(out, x, keep_prob, spread=KEPT_SPREAD):
    """Where an inverted-dropout output ``out`` of ``x`` kept the units; a ValueError when ``out`` is no
    such output (then the gradient it implies would prove nothing: a forward returning zeros implies zeros).
    ``spread``: how far the kept fraction may be from keep_prob (None: anything but nothing)."""
    kept = out != 0
    fraction = float(kept.mean()) if kept.size else 0.0
    if out.shape != x.shape or fraction == 0.0 or (spread is not None and abs(fraction - keep_prob) > spread):
        raise ValueError(f"the forward pass kept {fraction:.0%} of the units, not about {keep_prob:.0%}, "
                         "so the gradient its mask implies cannot be checked")
    if not np.allclose(out[kept], x[kept] / keep_prob, rtol=1e-6, atol=0):
        raise ValueError("the forward pass does not scale the kept units by 1 / keep probability, so the "
                         "gradient its mask implies cannot be checked")
    return kept


def inverted_dropout_gradient(out_name, keep_prob):
    """dx = dout * mask / keep_prob, the mask being the units the forward output ``out_name`` of x kept."""
    def expect(outputs, inputs, reference):
        kept = kept_units(outputs[out_name], inputs["x"], keep_prob)
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
            mask = outputs[f"{mask_prefix}{layer}"]
            # Too few units for a fraction to mean much: the dropout_forward test checks that.
            keep = kept_units(mask, np.ones(mask.shape), keep_prob, spread=None) / keep_prob
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


# Rules on the masks a student's forward drew (the units its outputs zeroed), for any generator call.
# Masks are judged by their properties, never against the reference's draws: any correct inverted dropout
# passes, whichever call draws its mask (the scaffold's rng, or CS231n's np.random.seed(seed) and rand) and
# whether it keeps u >= p or u < 1 - p. On 20000 units the dropped fraction of a correct mask is within 0.02
# of p by over 6 standard deviations; a mask drawn per row or column is constant along an axis of x.
DROPPED_SPREAD = 0.02


def dropout_rule(p, name=None):
    """Output ``name`` (default out_<p>) of x is x with a fraction p of the units zeroed and the others / (1 - p)."""
    name = name or f"out_{p}"

    def rule(outputs, expected, inputs, reference):
        x, out = inputs["x"], outputs[name]
        if out.shape != x.shape:
            return False, f"p={p}: out has shape {out.shape}, expected x's shape {x.shape}"
        dropped = float(np.mean(out == 0))
        if abs(dropped - p) > DROPPED_SPREAD:
            return False, f"p={p}: {dropped:.1%} of the units were dropped, expected about {p:.0%}"
        kept = out != 0
        scaled = x[kept].astype(np.float64) / (1 - p)
        if not np.allclose(out[kept].astype(np.float64), scaled, rtol=1e-6, atol=0):
            return False, f"p={p}: the kept units must be scaled by 1 / (1 - p) (inverted dropout)"
        return True, ""
    return rule


def independent_units_rule(*names):
    """No output's mask is constant along an axis: every unit gets its own draw (not one per row or column)."""
    def rule(outputs, expected, inputs, reference):
        for name in names:
            dropped = outputs[name] == 0
            for axis in range(dropped.ndim):
                if dropped.shape[axis] > 1 and np.all(dropped == dropped.take([0], axis=axis)):
                    return False, (f"the mask is the same along axis {axis} of x: draw one number per unit, "
                                   f"of x's whole shape")
        return True, ""
    return rule


def same_mask_rule(first, again, message):
    def rule(outputs, expected, inputs, reference):
        if np.array_equal(outputs[again] == 0, outputs[first] == 0):
            return True, ""
        return False, message
    return rule


def other_mask_rule(first, other, message):
    def rule(outputs, expected, inputs, reference):
        if np.array_equal(outputs[other] == 0, outputs[first] == 0):
            return False, message
        return True, ""
    return rule
