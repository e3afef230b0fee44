"""Image–text scenarios on the media-stream world (``image_text_pretraining``)."""
