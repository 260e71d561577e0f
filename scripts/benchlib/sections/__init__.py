"""The benchmark sections, one module each: `run(rig, ...)` takes everything it uses as arguments and returns a SectionResult.

Sections report figures; none asserts anything. A section that fails raises, and
the entry point turns the exception into an error row. `benchlib.runner` decides
what each section is given.
"""
