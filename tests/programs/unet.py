"""milesial/Pytorch-UNet: ``unet_parts.py``, ``unet_model.py``, ``utils/dice_score.py`` and the
loop of ``train.py``/``evaluate.py``, unchanged but for their imports, the widths (64..1024 there,
8..128 here, so it runs in seconds), the data (synthetic rectangles) and the lines marked
``# EDIT`` (mixed precision, which this library does not have).
"""
import numpy as np

import tinygrad_conv as torch
import tinygrad_conv.nn as nn
import tinygrad_conv.nn.functional as F
from tinygrad_conv import Tensor
from tinygrad_conv import optim


# ----- unet_parts.py -------------------------------------------------------------------------
class DoubleConv(nn.Module):
    """(convolution => [BN] => ReLU) * 2"""

    def __init__(self, in_channels, out_channels, mid_channels=None):
        super().__init__()
        if not mid_channels:
            mid_channels = out_channels
        self.double_conv = nn.Sequential(
            nn.Conv2d(in_channels, mid_channels, kernel_size=3, padding=1, bias=False),
            nn.BatchNorm2d(mid_channels),
            nn.ReLU(inplace=True),
            nn.Conv2d(mid_channels, out_channels, kernel_size=3, padding=1, bias=False),
            nn.BatchNorm2d(out_channels),
            nn.ReLU(inplace=True)
        )

    def forward(self, x):
        return self.double_conv(x)


class Down(nn.Module):
    """Downscaling with maxpool then double conv"""

    def __init__(self, in_channels, out_channels):
        super().__init__()
        self.maxpool_conv = nn.Sequential(
            nn.MaxPool2d(2),
            DoubleConv(in_channels, out_channels)
        )

    def forward(self, x):
        return self.maxpool_conv(x)


class Up(nn.Module):
    """Upscaling then double conv"""

    def __init__(self, in_channels, out_channels, bilinear=True):
        super().__init__()

        # if bilinear, use the normal convolutions to reduce the number of channels
        if bilinear:
            self.up = nn.Upsample(scale_factor=2, mode='bilinear', align_corners=True)
            self.conv = DoubleConv(in_channels, out_channels, in_channels // 2)
        else:
            self.up = nn.ConvTranspose2d(in_channels, in_channels // 2, kernel_size=2, stride=2)
            self.conv = DoubleConv(in_channels, out_channels)

    def forward(self, x1, x2):
        x1 = self.up(x1)
        # input is CHW
        diffY = x2.size()[2] - x1.size()[2]
        diffX = x2.size()[3] - x1.size()[3]

        x1 = F.pad(x1, [diffX // 2, diffX - diffX // 2,
                        diffY // 2, diffY - diffY // 2])
        # if you have padding issues, see
        # https://github.com/HaiyongJiang/U-Net-Pytorch-Unstructured-Buggy/commit/0e854509c2cea854e247a9c615f175f76fbb2e3a
        # https://github.com/xiaopeng-liao/Pytorch-UNet/commit/8ebac70e633bac59fc22bb5195e513d5832fb3bd
        x = torch.cat([x2, x1], dim=1)
        return self.conv(x)


class OutConv(nn.Module):
    def __init__(self, in_channels, out_channels):
        super(OutConv, self).__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, kernel_size=1)

    def forward(self, x):
        return self.conv(x)


# ----- unet_model.py (widths / 8) --------------------------------------------------------------
class UNet(nn.Module):
    def __init__(self, n_channels, n_classes, bilinear=False):
        super(UNet, self).__init__()
        self.n_channels = n_channels
        self.n_classes = n_classes
        self.bilinear = bilinear

        self.inc = (DoubleConv(n_channels, 8))
        self.down1 = (Down(8, 16))
        self.down2 = (Down(16, 32))
        self.down3 = (Down(32, 64))
        factor = 2 if bilinear else 1
        self.down4 = (Down(64, 128 // factor))
        self.up1 = (Up(128, 64 // factor, bilinear))
        self.up2 = (Up(64, 32 // factor, bilinear))
        self.up3 = (Up(32, 16 // factor, bilinear))
        self.up4 = (Up(16, 8, bilinear))
        self.outc = (OutConv(8, n_classes))

    def forward(self, x):
        x1 = self.inc(x)
        x2 = self.down1(x1)
        x3 = self.down2(x2)
        x4 = self.down3(x3)
        x5 = self.down4(x4)
        x = self.up1(x5, x4)
        x = self.up2(x, x3)
        x = self.up3(x, x2)
        x = self.up4(x, x1)
        logits = self.outc(x)
        return logits


# ----- utils/dice_score.py -----------------------------------------------------------------------
def dice_coeff(input: Tensor, target: Tensor, reduce_batch_first: bool = False, epsilon: float = 1e-6):
    # Average of Dice coefficient for all batches, or for a single mask
    assert input.size() == target.size()
    assert input.dim() == 3 or not reduce_batch_first

    sum_dim = (-1, -2) if input.dim() == 2 or not reduce_batch_first else (-1, -2, -3)

    inter = 2 * (input * target).sum(dim=sum_dim)
    sets_sum = input.sum(dim=sum_dim) + target.sum(dim=sum_dim)
    sets_sum = torch.where(sets_sum == 0, inter, sets_sum)

    dice = (inter + epsilon) / (sets_sum + epsilon)
    return dice.mean()


def multiclass_dice_coeff(input: Tensor, target: Tensor, reduce_batch_first: bool = False, epsilon: float = 1e-6):
    # Average of Dice coefficient for all classes
    return dice_coeff(input.flatten(0, 1), target.flatten(0, 1), reduce_batch_first, epsilon)


def dice_loss(input: Tensor, target: Tensor, multiclass: bool = False):
    # Dice loss (objective to minimize) between 0 and 1
    fn = multiclass_dice_coeff if multiclass else dice_coeff
    return 1 - fn(input, target, reduce_batch_first=True)


# ----- the data: rectangles to segment (instead of the Carvana images) ---------------------------
def synthetic_masks(n, size=36, seed=0):
    """``n`` noisy 3-channel images (float32) with one bright rectangle each, and its int64 mask.
    36 is not a multiple of 16, so ``Up`` pads (F.pad) as it does on odd image sizes."""
    rng = np.random.default_rng(seed)
    masks = np.zeros((n, size, size), np.int64)
    for m in masks:
        top, left = rng.integers(0, size - 12, 2)
        h, w = rng.integers(6, 12, 2)
        m[top:top + h, left:left + w] = 1
    images = (rng.normal(0, 0.5, (n, 3, size, size)) + masks[:, None]).astype(np.float32)
    return torch.from_numpy(images), torch.from_numpy(masks)


# ----- evaluate.py ---------------------------------------------------------------------------------
@torch.inference_mode()
def evaluate(net, images, true_masks):
    net.eval()
    mask_pred = net(images)
    mask_true = F.one_hot(true_masks, net.n_classes).permute(0, 3, 1, 2).float()
    mask_pred = F.one_hot(mask_pred.argmax(dim=1), net.n_classes).permute(0, 3, 1, 2).float()
    # compute the Dice score, ignoring background
    dice_score = multiclass_dice_coeff(mask_pred[:, 1:], mask_true[:, 1:], reduce_batch_first=False)
    net.train()
    return dice_score.item()


# ----- the loop of train.py ------------------------------------------------------------------------
def main(epochs=3, n_train=8, batch_size=4, bilinear=False, state_dict=None,
         learning_rate: float = 1e-3, weight_decay: float = 1e-8, momentum: float = 0.999,
         gradient_clipping: float = 1.0):
    """Train a UNet(3, 2) with RMSprop, cross-entropy plus Dice loss; returns the losses and the
    Dice score on held-out images. ``state_dict`` (optional) gives the initial weights."""
    torch.manual_seed(0)
    device = torch.device('cuda' if torch.cuda.is_available() else 'cpu')
    model = UNet(n_channels=3, n_classes=2, bilinear=bilinear)
    model = model.to(memory_format=torch.channels_last)
    if state_dict is not None:
        model.load_state_dict(state_dict)
    model.to(device=device)
    train_images, train_masks = synthetic_masks(n_train, seed=0)
    val_images, val_masks = synthetic_masks(4, seed=1)

    optimizer = optim.RMSprop(model.parameters(),
                              lr=learning_rate, weight_decay=weight_decay, momentum=momentum, foreach=True)
    scheduler = optim.lr_scheduler.ReduceLROnPlateau(optimizer, 'max', patience=5)  # goal: maximize Dice score
    # EDIT: dropped grad_scaler = torch.cuda.amp.GradScaler(enabled=amp): no mixed precision here
    criterion = nn.CrossEntropyLoss() if model.n_classes > 1 else nn.BCEWithLogitsLoss()

    losses = []
    for epoch in range(1, epochs + 1):
        model.train()
        epoch_loss = 0
        for start in range(0, n_train, batch_size):
            images = train_images[start:start + batch_size]
            true_masks = train_masks[start:start + batch_size]
            assert images.shape[1] == model.n_channels

            images = images.to(device=device, dtype=torch.float32, memory_format=torch.channels_last)
            true_masks = true_masks.to(device=device, dtype=torch.long)

            # EDIT: dropped `with torch.autocast(device.type, enabled=amp):` around these lines (no autocast here)
            masks_pred = model(images)
            if model.n_classes == 1:
                loss = criterion(masks_pred.squeeze(1), true_masks.float())
                loss += dice_loss(F.sigmoid(masks_pred.squeeze(1)), true_masks.float(), multiclass=False)
            else:
                loss = criterion(masks_pred, true_masks)
                loss += dice_loss(
                    F.softmax(masks_pred, dim=1).float(),
                    F.one_hot(true_masks, model.n_classes).permute(0, 3, 1, 2).float(),
                    multiclass=True
                )

            optimizer.zero_grad(set_to_none=True)
            loss.backward()  # EDIT: was grad_scaler.scale(loss).backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), gradient_clipping)
            optimizer.step()  # EDIT: was grad_scaler.step(optimizer); grad_scaler.update()

            epoch_loss += loss.item()
        losses.append(epoch_loss)
        val_score = evaluate(model, val_images.to(device), val_masks.to(device))
        scheduler.step(val_score)
    return {"losses": losses, "dice": val_score, "lr": optimizer.param_groups[0]['lr']}


if __name__ == "__main__":
    print(main())
