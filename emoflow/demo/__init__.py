"""The built-in synthetic demo data set: short labelled face videos warped from a real photo.

Every video starts from the same real face (``skimage.data.astronaut()``), cropped to a square
around the face. MediaPipe Face Mesh finds that face's 478 neutral landmarks once per process;
everything else is geometry on those landmarks:

* an **emotion** is a sum of *actions*; an action pushes a named group of landmarks
  (``emoflow.facemesh.mesh.regions()``) by known vectors. A smooth dense displacement field is
  built from those control points (kernel-weighted interpolation with a compactly supported
  kernel, and zero-displacement anchors where the face must stay put) and scaled over time
  by an ease-in/out ramp from neutral (first frame) to peak (from about ``ramp_fraction`` of
  the clip on);
* a **subject** is an identity: a static face-shape morph, anisotropic scale, size, in-plane
  rotation and shear, a colour grade, its own expression intensity and its own per-action
  style (how strongly it uses each action);
* every video adds **nuisance** shared by all classes: random blinks, brow twitches, sideways
  mouth shifts and jaw motion, head drift and jitter, and pixel noise. These move landmarks
  without carrying any class information, so landmark pruning has something to remove.

Each frame is rendered with one ``cv2.remap`` of the colour-graded photo: output pixel →
head motion and subject pose (affine) → inverse of the expression field (two fixed-point
steps) → photo pixel.

``ground_truth.json`` lists, for each emotion, the regions its actions drive and the landmark
ids its peak displacement field moves by more than :data:`~emoflow.demo.spec.GROUND_TRUTH_THRESHOLD`
face widths, evaluated exactly at the neutral landmarks.
"""

from emoflow.demo.spec import DemoSpec
from emoflow.demo.writing import make_demo

__all__ = ["DemoSpec", "make_demo"]
