"""GB/T 28181 cascade: this county node as a lower platform of one or more upper (provincial) platforms."""
