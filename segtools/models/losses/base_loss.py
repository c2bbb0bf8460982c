"""What every registered loss shares: ``loss_weight`` and a validated ``loss_name``."""

from torch import nn

from .utils import check_loss_name, check_reduction


class BaseLoss(nn.Module):
    """Holds ``loss_weight``, ``loss_name`` and (when the loss has one) ``reduction``.

    Class attribute ``takes_pixel_weight`` says whether ``forward`` takes a per-pixel
    ``weight`` (what a decode head's pixel sampler produces); losses that are not a sum over
    pixels (Dice, Lovasz) set it to ``False``, so a sampler refuses them at build time.

    Args:
        loss_weight: Factor applied to the loss value.
        loss_name: Key of the loss in the loss dict; must start with ``'loss_'``.
        reduction: ``'none'``, ``'mean'`` or ``'sum'``; ``None`` for losses that
            always return a scalar.
    """

    takes_pixel_weight: bool = True
    #: Attributes shown by ``repr(loss)``, in order.
    repr_fields: tuple[str, ...] = ('loss_weight', 'loss_name')

    def __init__(self, loss_weight: float, loss_name: str, reduction: str | None = None) -> None:
        super().__init__()
        owner = type(self).__name__
        self.loss_weight = loss_weight
        self._loss_name = check_loss_name(owner, loss_name)
        if reduction is not None:
            self.reduction = check_reduction(owner, reduction)

    @property
    def loss_name(self) -> str:
        """Key of this loss in the loss dict."""
        return self._loss_name

    def extra_repr(self) -> str:
        return ', '.join(f'{name}={getattr(self, name)!r}' for name in self.repr_fields)
