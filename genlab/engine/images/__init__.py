"""Image-scale generative models: data sets (``data``: digits, sprites, users' files), the
sprite renderer (``sprites``), backbones and objectives (``nets``, ``objectives``), the
trainer (``trainer``), image grids (``grid``) and the classifier metric (``quality``).

Import the submodules themselves: this package imports nothing, so that importing it costs
nothing (torch is imported only by the modules that train)."""
