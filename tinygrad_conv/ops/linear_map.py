"""Ops that are a fixed linear map of their one input (pad, interpolate): ``out = A x``.

Such an op keeps a *plan* (the map, built once in ``forward`` from the shapes and
options) with two methods on arrays: ``plan.apply(x)`` (``A x``) and
``plan.adjoint(g)`` (``A^T g``). The backward is the adjoint, and the backward of
the adjoint is the map again, so double backward needs no saved arrays: it runs the
same op with the plan and ``adjoint=True``, recorded like any other op.
"""


class LinearMap:
    """Mixed into an ``Op`` whose ``forward`` sets ``self.plan`` and ``self.adjoint`` and
    returns ``plan.adjoint(x) if adjoint else plan.apply(x)``; it then accepts the keywords
    ``plan=`` and ``adjoint=True`` (used only by ``backward_graph``)."""

    def backward(self, grad):
        return (self.plan.apply(grad) if self.adjoint else self.plan.adjoint(grad),)

    def backward_graph(self, grad, out):
        return (type(self).apply(grad, plan=self.plan, adjoint=not self.adjoint),)
