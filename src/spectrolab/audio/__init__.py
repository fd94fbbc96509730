"""Audio I/O, pure DSP functions and invertible spectrogram representations."""
