"""Models this plugin registers by name; steps build them with ctx.models.build(name)."""


class Line:
    """y = w x + b, fitted by full-batch gradient descent on mean squared error."""

    def __init__(self, w: float = 0.0, b: float = 0.0) -> None:
        self.w, self.b = w, b

    def predict(self, x: float) -> float:
        return self.w * x + self.b

    def step(self, xs: list[float], ys: list[float], lr: float) -> float:
        """One gradient step; returns the loss before it."""
        n = len(xs)
        errors = [self.predict(x) - y for x, y in zip(xs, ys, strict=True)]
        loss = sum(e * e for e in errors) / n
        self.w -= lr * 2.0 * sum(e * x for e, x in zip(errors, xs, strict=True)) / n
        self.b -= lr * 2.0 * sum(errors) / n
        return loss

    def state(self) -> dict[str, float]:
        return {"w": self.w, "b": self.b}


class Constant(Line):
    """A baseline that predicts one number: the slope is held at zero."""

    def step(self, xs: list[float], ys: list[float], lr: float) -> float:
        loss = super().step(xs, ys, lr)
        self.w = 0.0
        return loss
