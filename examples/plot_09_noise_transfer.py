"""
Noise attack and its transfer (R14)
===================================

Learn an additive noise that turns one digit into a target class (p >= 0.99), then add
the same noise to other digits: does it fool them too? The report attacked each digit
*a* towards *a + 1* and tabulated the predictions for ten other images.
"""

# %%
import torch

import cnnviz
from cnnviz import plots
from cnnviz.attacks import noise_attack
from cnnviz.data import first_per_class
from cnnviz.figures import sample_indices

model = cnnviz.pretrained(batchnorm=False)
data = cnnviz.load_splits()
bases = data.test_x[first_per_class(data.test_y)]
others = sample_indices(len(data.test_x), 10, seed=2020)
transfer = noise_attack(
    model, bases, (torch.arange(10) + 1) % 10, data.test_x[others], data.test_y[others]
)
fig = plots.plot_noise_attack(transfer)

# %%
# Top: digit *a* plus its learned noise, read as *a + 1*. Bottom: the noise alone.
# It draws the missing strokes of the target and erases some of the source's.
#
# The transfer table
# ------------------
fig = plots.plot_transfer_table(transfer, data.test_y[others])

# %%
# Most cells stay grey: a noise fitted to one image rarely fools another, as the report
# concluded ("it does not seem to be very robust"). The fooling rate of each noise counts
# only the images not already of its target class; with this better-trained network the
# noises transfer even less often than in the report:
for target, rate in zip(transfer.attack.targets, transfer.fooling_rate, strict=True):
    print(f"noise towards {int(target)} fools {float(rate):.0%} of the other digits")
