"""
Batch norm versus none (R8)
===========================

**Does batch normalisation make the network learn faster, or better?**

This page re-creates report item R8: validation accuracy and loss with and without batch
normalisation on one plot (the report's Fig 6 and 7); :doc:`/reproducing` lists all
report items. Batch normalisation (`Ioffe & Szegedy 2015
<https://arxiv.org/abs/1502.03167>`__) standardises the outputs of ``conv2`` and ``fc1``
over each batch. The report found that it reaches a given validation accuracy sooner, with a
small gain in final accuracy. The two training runs of the previous example (loaded from
the cache) and the histories of the shipped models let us check both.
"""

# %%
import cnnviz
from cnnviz import plots
from cnnviz.models.checkpoint import pretrained_history
from cnnviz.training.cache import cached_train

data = cnnviz.load_splits()
short = [cached_train(data, batchnorm=bn, recipe="fast", epochs=2)[1] for bn in (False, True)]


def compare(histories, goal, rows=10):
    """Print the first ``rows`` validation checks of both runs side by side, how often
    batch norm is ahead, and when each run first reaches ``goal`` %; return the numbers:
    the first check's lead of batch norm (points), the checks it leads, all checks, the
    last check's lead, and the step at which each run first reaches ``goal``."""
    plain, normed = histories
    print("step   no BN      BN")
    pairs = list(zip(plain.val_step, plain.val_acc, normed.val_acc, strict=True))
    for step, a, b in pairs[:rows]:
        print(f"{step:>4}  {a:6.2f}  {b:6.2f}  {'BN ahead' if b > a else ''}")
    ahead = sum(b > a for _, a, b in pairs)
    last = pairs[-1]
    print(f"batch norm ahead at {ahead} of {len(pairs)} checks")
    print(f"step {last[0]}: no BN {last[1]:.2f} %, BN {last[2]:.2f} %")
    first = []
    for history in histories:
        checks = zip(history.val_step, history.val_acc, strict=True)
        first.append(next((step for step, accuracy in checks if accuracy >= goal), None))
        print(f"{history.variant}: first at >= {goal} % at step {first[-1]}")
    lead = pairs[0][2] - pairs[0][1]
    return lead, ahead, len(pairs), last[2] - last[1], first


def who_first(first, goal):
    """A sentence on which run reached ``goal`` % first, from ``compare``'s steps."""
    plain, normed = first
    if normed is None or plain is None:
        missing = " and ".join(
            name for name, step in (("no BN", plain), ("BN", normed)) if step is None
        )
        return f"{missing} never reached {goal} % on validation in this run"
    if normed == plain:
        return f"both first reach {goal} % at the same check, step {normed}"
    winner = "batch norm" if normed < plain else "the plain network"
    return f"{winner} reaches {goal} % first (step {min(first)}, the other at {max(first)})"


# %%
# Fig 6, 7: two epochs
# --------------------
# The table below lists the first checks side by side; the sentences under it are
# printed from the same numbers, since how often the lead changes hands depends on the
# run (bf16 or fp32 arithmetic, the CPU's rounding). The head start at the first check
# is the robust part, and the page checks it: a run where batch norm is not ahead after
# the first 100 steps fails the docs build.
GOAL = 98.0  # validation accuracy (%) whose first check each run is timed to
fig = plots.plot_bn_comparison(short, "accuracy")
# sphinx_gallery_start_ignore
plots.describe(
    fig,
    alt=(
        "Validation accuracy in percent against training step for two runs of two epochs: "
        "blue dots and line without batch norm, vermillion with batch norm."
    ),
    caption=(
        "Validation accuracy with and without batch norm, two epochs each; the table "
        "under the figure gives the values at each check."
    ),
    report_figure=6,
)
# sphinx_gallery_end_ignore
lead, ahead, checks, final, first = compare(short, GOAL)
print(f"precision of these runs: {short[0].precision}")
assert lead > 1.0, "the batch-norm model is clearly ahead at the first check"
print(
    f"At the first check batch norm leads by {lead:.1f} points; over all {checks} checks it "
    f"is ahead at {ahead}; {who_first(first, GOAL)}; at the end it "
    + (f"leads by {final:.2f} points." if final > 0 else f"trails by {-final:.2f} points.")
)

# %%
fig = plots.plot_bn_comparison(short, "loss")
# sphinx_gallery_start_ignore
plots.describe(
    fig,
    alt=(
        "Validation loss on a log scale against training step for two runs of two epochs: "
        "blue without batch norm, vermillion with batch norm."
    ),
    caption="Validation loss with and without batch norm, two epochs each.",
    report_figure=7,
)
# sphinx_gallery_end_ignore

# %%
# Eight epochs: the shipped models
# --------------------------------
# With a longer schedule the two end close together, as the report observed ("a small
# amount that was reducing as the network trained more"); the table ends with both
# final validation accuracies, and the page checks that they are within half a point.
long = [pretrained_history(False), pretrained_history(True)]
fig = plots.plot_bn_comparison(long, "accuracy")
# sphinx_gallery_start_ignore
plots.describe(
    fig,
    alt=(
        "Validation accuracy against training step for the two shipped networks, eight "
        "epochs each: blue without batch norm, vermillion with batch norm."
    ),
    caption=(
        "Validation accuracy of the shipped networks over eight epochs, with and without "
        "batch norm."
    ),
    report_figure=6,
)
# sphinx_gallery_end_ignore
_, _, _, long_final, long_first = compare(long, GOAL)
assert abs(long_final) < 0.5, "after eight epochs the two end within half a point"
print(
    f"After eight epochs: {who_first(long_first, GOAL)}; "
    f"they end {abs(long_final):.2f} points apart."
)

# %%
# Takeaway
# --------
# Batch norm gives a head start: the first validation point is clearly higher (checked
# above). Whether it also reaches a given accuracy sooner depends on the run: with a
# well-tuned optimiser the plain network soon catches up (the printed sentences say when
# and how often each leads), and after eight epochs the two differ by a fraction of a
# point (checked).
#
# **Exercise.** Change ``GOAL = 98.0`` to ``GOAL = 99.0`` and see which model gets there
# first, or train both with ``recipe="report"`` (the report's plain SGD) and
# compare the head start there.
