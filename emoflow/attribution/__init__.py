r"""Dataset-level Integrated Gradients with several typical baselines (Captum), stored in Zarr.

The improved IG of Di Luzio, Rosato & Panella (arXiv 2407.14865) replaces IG's single all-zero
reference with several *typical* samples and aggregates attributions over the whole data set.
For the binary model :math:`F_e` of emotion :math:`e`, a sample :math:`x` and baselines
:math:`b_1, …, b_K`, this module computes

.. math::

    A_e(x) = \frac{1}{K} \sum_{k=1}^{K} (x - b_k) \odot
             \sum_{j=1}^{m} w_j\, \nabla F_e\big(b_k + \alpha_j (x - b_k)\big),

the path integral :math:`\int_0^1 \nabla F_e(b_k + \alpha (x - b_k))\, d\alpha` taken by
Gauss–Legendre quadrature with :math:`m` = ``n_steps`` nodes :math:`\alpha_j` and weights
:math:`w_j` on [0, 1] (Captum's ``IntegratedGradients``; ``quadrature: riemann_trapezoid`` is
the trapezoid rule). :math:`A_e(x)` has the shape of :math:`x`: frames :math:`t`, landmarks
:math:`l`, coordinates :math:`c`. With :math:`S` the samples that count (``samples``: the
emotion's positive samples, or all), the relevance of landmark :math:`l` for emotion :math:`e`
(``aggregate``) is

.. math::

    \text{abs\_mean:}\quad R_{e,l} &= \sum_{t,c} \Big| \frac{1}{|S|}
        \sum_{x \in S} A_e(x)_{t,l,c} \Big| \\
    \text{mean\_abs:}\quad R_{e,l} &= \frac{1}{|S|} \sum_{x \in S} \sum_{t,c}
        \big| A_e(x)_{t,l,c} \big| \\
    \text{signed\_mean:}\quad R_{e,l} &= \frac{1}{|S|} \sum_{x \in S} \sum_{t,c}
        A_e(x)_{t,l,c} \\
    \text{l2:}\quad R_{e,l} &= \frac{1}{|S|} \sum_{x \in S}
        \Big( \sum_{t,c} A_e(x)_{t,l,c}^2 \Big)^{1/2}

``abs_mean`` (the default) is the IG of the *data set*: by completeness,
:math:`\sum_{t,l,c} \frac{1}{|S|}\sum_{x} A_e(x)_{t,l,c} = \overline{F_e(x)}_S -
\frac{1}{K}\sum_k F_e(b_k)` (up to the quadrature error), so it splits the mean score gap
between the samples and the references over the inputs, and motion that is unrelated to the
emotion (blinks, twitches, noise) — whose attributions change sign from sample to sample —
averages out before the magnitude is taken. The per-sample magnitudes (``mean_abs``, ``l2``)
instead accumulate such noise, and a model fitted on few samples uses noisy inputs a little,
so noisy landmarks then outrank weak true ones.

The completeness gap :math:`\frac1K \sum_k |\sum_{t,l,c} A_{e,k}(x) - (F_e(x) - F_e(b_k))|`
of each sample (:math:`A_{e,k}` the attribution against baseline :math:`k` alone) is recorded
as its convergence delta (for occlusion, which is not complete, it measures how far the
landmarks' effects are from adding up).

Baselines (``baseline``; :math:`K` = ``n_baselines``, chosen among at most
:data:`~emoflow.attribution.baselines.MAX_BASELINE_CANDIDATES` samples;
:mod:`emoflow.attribution.baselines`):

- ``negative_centroids`` (default) — the centroids of :math:`K`-means clusters of the samples
  of the other emotions: several *typical* non-:math:`e` references, each the average of a
  group of similar samples, so the references carry the other emotions' motion but not one
  sample's own nuisance;
- ``negative_medoids`` — :math:`K`-medoids of those samples (real samples, nuisance included:
  a medoid's own blink is attributed to the eyelids of every sample explained against it);
- ``neutral`` — ``k`` typical neutral faces: medoids of the samples labelled ``neutral`` when
  the data set has them, else medoids of the samples' first (neutral) frames held still for
  all frames — for displacement features this is the zero input;
- ``mean`` — the data set's mean sample; ``zero`` — the all-zero input (vanilla IG).

References drawn from the other emotions explain "why :math:`e` rather than the others": a
one-vs-rest model also uses the *stillness* of the other emotions' landmarks, and these
baselines credit it; neutral references explain "why :math:`e` rather than no expression".

For the randomized network, ``integrated_gradients`` takes the network's own exact path
integral (:meth:`emoflow.models.RandomizedDeepNetwork.path_integral`: its first layer is
linear along the path, so the large input layer runs once per sample and baseline, not once
per node), which equals Captum's result to float rounding; other models, and
``integrated_gradients_captum``, use Captum's ``IntegratedGradients``.

For comparison, ``method`` can be ``smoothgrad_ig`` (IG under Captum's NoiseTunnel, 8 noisy
copies with standard deviation 0.1 × the batch's), ``gradient_shap`` (Captum's GradientShap
with the baselines as reference distribution and ``n_steps`` random draws) or
``feature_ablation``: landmark-level occlusion through Captum's ``feature_mask`` — every
landmark (all its frames and coordinates together) is set to each baseline's values and the
drop of the score is its attribution, spread evenly over the landmark's entries so that the
same aggregations apply. Gradient methods take no ``feature_mask``: IG is attributed per input
entry and summed per landmark afterwards, which loses nothing, since IG is additive — the
landmark's summed attribution is exactly its share of the completeness identity — whereas
occlusion of a whole landmark needs one forward pass per landmark and is not additive.

Layout of the package (after Captum's ``attr``):

- :mod:`~emoflow.attribution.baselines` — the references, one function per kind in
  :data:`~emoflow.attribution.baselines.BASELINE_KINDS`;
- :mod:`~emoflow.attribution.methods` — one small class per method on the shared
  :class:`AttributionMethod` (pairing, batching and the completeness gap written once), in
  :data:`ATTRIBUTION_METHODS`;
- :mod:`~emoflow.attribution.relevance` — the aggregations, written once for NumPy and dask,
  in :data:`~emoflow.attribution.relevance.AGGREGATIONS`;
- :mod:`~emoflow.attribution.dataset` — a model over many samples, batch by batch;
- :mod:`~emoflow.attribution.run` — the stage: models attributed into ``attributions.zarr``
  (written and read only by :mod:`emoflow.storage.attribution_store`);
- :mod:`~emoflow.attribution.faithfulness` — checks of a landmark ranking;
- :mod:`~emoflow.attribution.settings` — :class:`AttributionSettings`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from emoflow._lazy import lazy_names

if TYPE_CHECKING:
    from emoflow.attribution.dataset import attribute_samples, dataset_relevance
    from emoflow.attribution.methods import ATTRIBUTION_METHODS, AttributionMethod
    from emoflow.attribution.run import attribute_emotion
    from emoflow.attribution.settings import AttributionSettings, runtime_settings

# Each name is imported from its module when first used (emoflow._lazy): the workflow reads
# the settings (runtime_settings) with the Snakefile, without the stage that attributes
# (its feature and attribution stores).
_LAZY = {
    "ATTRIBUTION_METHODS": "methods",
    "AttributionMethod": "methods",
    "AttributionSettings": "settings",
    "attribute_emotion": "run",
    "attribute_samples": "dataset",
    "dataset_relevance": "dataset",
    "runtime_settings": "settings",
}

__all__ = [
    "ATTRIBUTION_METHODS",
    "AttributionMethod",
    "AttributionSettings",
    "attribute_emotion",
    "attribute_samples",
    "dataset_relevance",
    "runtime_settings",
]

__getattr__ = lazy_names(__name__, _LAZY)
