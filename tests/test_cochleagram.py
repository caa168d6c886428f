"""Tests for the cochleagram front end (neurocompare.audio): the ERB scale, the half-cosine filter
bank (perfect reconstruction of summed power), known answers for tones, AM tones and clicks,
frame rate, gradients, batching, dtype/device and every error path."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from neurocompare.audio import (
    Cochleagram,
    cochleagram,
    erb_space,
    erb_to_freq,
    filterbank_centre_freqs,
    freq_to_erb,
    half_cosine_filterbank,
)
from neurocompare.audio._cochleagram import _ClippedPower

EPS64 = np.finfo(np.float64).eps
EPS32 = float(np.finfo(np.float32).eps)
SR = 16000


@pytest.fixture(autouse=True)
def _one_thread():
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def tone(freq_hz, n=SR, sr=SR, amplitude=1.0, dtype=torch.float64):
    t = torch.arange(n, dtype=dtype) / sr
    return amplitude * torch.sin(2 * math.pi * freq_hz * t)


# --- the ERB scale ---------------------------------------------------------------------------------


def test_erb_number_is_glasberg_moore_1990():
    f = np.array([0.0, 100.0, 1000.0, 4000.0, 10000.0])
    expected = [21.4 * math.log10(1 + 0.00437 * v) for v in f]  # the formula, written out
    np.testing.assert_allclose(freq_to_erb(f), expected, rtol=4 * EPS64, atol=0)
    assert freq_to_erb(0.0) == 0.0
    assert 15.6 < freq_to_erb(1000.0) < 15.7  # the textbook ERB number of 1 kHz


def test_erb_round_trip():
    f = np.geomspace(1.0, 20000.0, 50)
    # relative error of 10**(E/21.4) grows with E (~35 at 10 kHz): a few dozen eps
    np.testing.assert_allclose(erb_to_freq(freq_to_erb(f)), f, rtol=64 * EPS64)


def test_erb_space_is_even_on_the_erb_scale_with_exact_endpoints():
    f = erb_space(50.0, 8000.0, 33)
    assert f.shape == (33,) and f[0] == 50.0 and f[-1] == 8000.0
    steps = np.diff(freq_to_erb(f))
    np.testing.assert_allclose(steps, (freq_to_erb(8000.0) - freq_to_erb(50.0)) / 32, rtol=1e-12)


def test_erb_space_matches_the_gammatone_package():
    gammatone_filters = pytest.importorskip("gammatone.filters")  # reference: Gammatone 1.0.3 (detly/gammatone)
    # gammatone's erb_space(low, high, num) gives num points from just below high down to low,
    # evenly spaced on Slaney's ERB-rate scale log(1 + f / (9.26449 * 24.7)); ours uses
    # log10(1 + 0.00437 f): 1 / 0.00437 and 9.26449 * 24.7 agree to 2e-7 relative, and an even
    # spacing does not depend on the log's scale factor, so the grids agree to ~1e-7 relative
    for low, high, num in [(50.0, 8000.0, 40), (100.0, 10000.0, 7), (20.0, 22050.0, 128)]:
        theirs = gammatone_filters.erb_space(low, high, num)[::-1]
        ours = erb_space(low, high, num + 1)[:-1]
        np.testing.assert_allclose(ours, theirs, rtol=1e-6)
    # the band-pass centres of our bank are the interior points of such a grid
    s, n = 2, 30
    centres = filterbank_centre_freqs(SR, n_bands=n, low_hz=100.0, high_hz=8000.0, sample_factor=s)[s:-s]
    grid = gammatone_filters.centre_freqs(SR, s * (n + 1), 100.0)[::-1]  # low .. just below sr/2
    np.testing.assert_allclose(centres, grid[1:], rtol=1e-6)


# --- the filter bank ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "n_samples, sr, n_bands, low, high, s",
    [(16000, 16000, 50, 50.0, None, 2), (20000, 20000, 50, 50.0, 10000.0, 4), (999, 8000, 10, 200.0, 3000.0, 1),
     (4410, 44100, 30, 20.0, 10000.0, 3)],
)
def test_squared_gains_sum_to_one_from_dc_to_nyquist(n_samples, sr, n_bands, low, high, s):
    gains = half_cosine_filterbank(n_samples, sr, n_bands=n_bands, low_hz=low, high_hz=high, sample_factor=s)
    assert gains.shape == (s * (n_bands + 3) - 1, n_samples // 2 + 1)
    assert gains.min() >= 0 and gains.max() <= 1 / math.sqrt(s) * (1 + 4 * EPS64)
    # each gain is cos(pi/2 u), u = (E - centre) / half_width; a rounding of E and of the centre
    # (both up to E_high in size) moves u by ~eps * E_high / half_width
    e_high = freq_to_erb(high or min(10000.0, sr / 2))
    half_width = s * (e_high - freq_to_erb(low)) / (s * (n_bands + 1))
    tol = 16 * EPS64 * (e_high / half_width + 1)
    np.testing.assert_allclose((gains**2).sum(axis=0), 1.0, rtol=0, atol=tol)


def test_band_pass_filters_peak_at_their_centres_and_vanish_outside_their_support():
    s, n = 2, 20
    gains = half_cosine_filterbank(SR * 4, SR, n_bands=n, low_hz=100.0, high_hz=6000.0, sample_factor=s)
    freqs = np.arange(gains.shape[1]) * (SR / (SR * 4))
    centres = filterbank_centre_freqs(SR, n_bands=n, low_hz=100.0, high_hz=6000.0, sample_factor=s)
    half = s * (freq_to_erb(6000.0) - freq_to_erb(100.0)) / (s * (n + 1))
    for c in range(s, len(centres) - s):
        peak = freqs[np.argmax(gains[c])]
        assert abs(peak - centres[c]) <= 0.25 + 1e-9  # the bin grid is 0.25 Hz
        outside = np.abs(freq_to_erb(freqs) - freq_to_erb(centres[c])) >= half
        assert np.all(gains[c][outside] == 0)


def test_centre_frequencies_are_ascending_and_within_range():
    cf = filterbank_centre_freqs(20000, n_bands=50, sample_factor=4)
    assert cf.shape == (211,)  # the 211 channels of the lab's cochleagram_1
    assert np.all(np.diff(cf) >= 0) and cf[0] >= 0 and cf[-1] <= 10000.0
    assert cf[4] == pytest.approx(erb_to_freq(freq_to_erb(50.0) + (freq_to_erb(10000.0) - freq_to_erb(50.0)) / 204))


# --- known answers of the cochleagram ----------------------------------------------------------------


def test_pure_tone_gives_the_filter_gain_in_every_frame():
    # a tone on an rfft bin has a constant Hilbert envelope A * g_c(f) in channel c, so before
    # compression every frame of channel c is A g_c(f), up to the rounding of four FFTs (~eps log2 n A each)
    gains = np.array(half_cosine_filterbank(SR, SR))
    amplitude = 0.25
    x = torch.stack([tone(f, amplitude=amplitude) for f in (440, 1000, 3333)])
    linear = Cochleagram(SR, power=1.0)(x)[:, 0]
    compressed = Cochleagram(SR)(x)[:, 0]
    assert linear.shape == (3, 105, 200)
    for row, f in enumerate((440, 1000, 3333)):
        expected = torch.as_tensor(amplitude * gains[:, f])[:, None].expand(-1, 200)
        torch.testing.assert_close(linear[row], expected, rtol=0, atol=4 * 64 * EPS64 * math.log2(SR) * amplitude)
        # power 0.3 turns that rounding into (1e-16)^0.3 ~ 1e-5 where the gain is 0; compare elsewhere
        on = gains[:, f] > 1e-3
        torch.testing.assert_close(compressed[row][on], expected[on] ** 0.3, rtol=1e-9, atol=0)


@pytest.mark.parametrize("freq", [250, 700, 1234, 2900, 5100])
def test_pure_tone_excites_the_channel_with_the_nearest_centre(freq):
    coch = Cochleagram(SR, n_bands=40)
    profile = coch(tone(freq)[None])[0, 0].mean(-1).numpy()
    s = coch.sample_factor
    band = slice(s, coch.n_channels - s)  # band-pass channels (edge filters are flat beyond the range)
    best = np.argmax(profile[band]) + s
    nearest_erb = np.argmin(np.abs(freq_to_erb(coch.centre_freqs[band]) - freq_to_erb(freq))) + s
    assert best == nearest_erb
    # and in Hz: the nearest centre is the same channel or its neighbour (ERB is log-like)
    nearest_hz = np.argmin(np.abs(coch.centre_freqs[band] - freq)) + s
    assert abs(best - nearest_hz) <= 1


@pytest.mark.parametrize("rate", [4, 8, 16, 32])
def test_am_tone_envelope_recovers_the_modulation_rate(rate):
    t = torch.arange(SR, dtype=torch.float64) / SR
    x = (1 + 0.8 * torch.sin(2 * math.pi * rate * t)) * torch.sin(2 * math.pi * 1000 * t)
    coch = Cochleagram(SR, power=1.0)
    out = coch(x[None])[0, 0]
    channel = int(np.argmin(np.abs(coch.centre_freqs - 1000)))
    spectrum = np.abs(np.fft.rfft(out[channel].numpy() - out[channel].numpy().mean()))
    freqs = np.fft.rfftfreq(out.shape[-1], d=1 / 200)
    assert freqs[np.argmax(spectrum)] == rate
    # with power 1 the envelope is about g(f) + 0.8 (g(f - rate) + g(f + rate)) / 2 sin(...): the
    # channel's own filter attenuates the sidebands (to ~0.81 of the carrier's gain at 32 Hz)
    gains = half_cosine_filterbank(SR, SR)[channel]
    expected = 0.8 * (gains[1000 - rate] + gains[1000 + rate]) / (2 * gains[1000])
    depth = (out[channel].max() - out[channel].min()) / (out[channel].max() + out[channel].min())
    assert float(depth) == pytest.approx(expected, rel=0.02)


def test_frame_rate_is_exactly_env_sr_and_frames_are_aligned_in_time():
    coch = Cochleagram(SR)
    assert coch.n_frames(SR) == 200 and coch.n_frames(SR // 2) == 100
    assert coch.n_frames(SR + 1) == 201  # zero-padded to the next frame
    assert coch(torch.zeros(1, 12345)).shape[-1] == math.ceil(12345 / 80)
    # a click at 0.5 s + 3 frames peaks in frame 103 (zero-phase filters, frame j at j / 200 s)
    x = torch.zeros(1, SR, dtype=torch.float64)
    x[0, SR // 2 + 3 * 80] = 1.0
    out = Cochleagram(SR, power=1.0)(x)[0, 0]
    mid = slice(20, 90)  # channels ~300 Hz-4 kHz, where the impulse responses are short
    assert np.all(out[mid].argmax(-1).numpy() == 103)
    env_20k = Cochleagram(20000, env_sr=100)(torch.zeros(2, 20000))
    assert env_20k.shape == (2, 1, 105, 100)


@pytest.mark.parametrize("decimation", [None, 1])
def test_envelopes_match_scipy_hilbert_of_the_subbands(decimation):
    scipy_signal = pytest.importorskip("scipy.signal")  # reference: scipy 1.17.1, signal.hilbert
    # slowly modulated tones, >= 3 ERB apart (no channel sees two carriers): each subband envelope is
    # |g0 + a e^{iwt} + b e^{-iwt}|; where |a| + |b| < g0 / 2 (envelope min > max / 3) its harmonics
    # above 50 Hz (the start of our roll-off) are below ~0.3^12 ~ 1e-7 of it, so resampling to
    # 200 Hz is exact to that level. (At a filter's edge one sideband can outweigh the carrier: a
    # deeply modulated envelope with cusps, not band-limited; those channels are left out.)
    t = np.arange(SR) / SR
    x = sum(
        amp * (1 + 0.5 * np.sin(2 * np.pi * mod * t + k)) * np.sin(2 * np.pi * carrier * t + 2 * k)
        for k, (carrier, mod, amp) in enumerate([(200, 3, 1.0), (500, 4, 0.5), (1000, 4, 0.3), (2000, 5, 0.7),
                                                 (3000, 6, 0.2), (5000, 2, 0.4), (7000, 3, 0.6)])
    )
    gains = np.array(half_cosine_filterbank(SR, SR))
    subbands = np.fft.irfft(gains * np.fft.rfft(x), n=SR)
    reference = np.abs(scipy_signal.hilbert(subbands, axis=-1))[:, ::80]  # frame j at sample 80 j
    ours = Cochleagram(SR, power=1.0, envelope_decimation=decimation)(torch.as_tensor(x)[None])[0, 0].numpy()
    lit = (reference.max(-1) > 1e-3 * reference.max()) & (reference.min(-1) > reference.max(-1) / 3)
    assert lit.sum() >= 25  # channels around all seven carriers
    err = np.abs(ours - reference).max(-1) / reference.max(-1)
    assert err[lit].max() < 1e-6
    # everywhere else the two agree to the size of those few cusped envelopes' high harmonics
    np.testing.assert_allclose(ours, reference, rtol=0, atol=1e-4 * reference.max())


def test_reduced_rate_envelopes_agree_with_full_rate_ones():
    torch.manual_seed(0)
    x = 0.1 * torch.randn(2, SR, dtype=torch.float64)
    fast = Cochleagram(SR, power=1.0)(x)
    full = Cochleagram(SR, power=1.0, envelope_decimation=1)(x)
    # the envelope samples are exact; what differs is the aliasing of |a| above the reduced rate.
    # Measured on this noise: 0.16% rms, 1.3% of a channel's peak at most (bounds below: 2x that)
    assert float((fast - full).norm() / full.norm()) < 4e-3
    assert float(((fast - full).abs().amax((0, 1, 3)) / full.abs().amax((0, 1, 3))).max()) < 0.03


def test_parseval_summed_subband_power_equals_signal_power():
    # perfect reconstruction of power: the subbands y_c (rfft Y_c = g_c X) of a sound with no energy
    # at DC or Nyquist have mean(y_c^2) = 2 sum_k |Y_c[k]|^2 / N^2, and sum_c g_c^2 = 1
    torch.manual_seed(1)
    spec = torch.fft.rfft(0.1 * torch.randn(1, SR, dtype=torch.float64))
    spec[..., 0] = 0
    spec[..., -1] = 0
    x = torch.fft.irfft(spec, n=SR)
    gains = torch.as_tensor(np.array(half_cosine_filterbank(SR, SR)))
    subbands = torch.fft.irfft(gains * spec, n=SR)  # (channels, samples)
    torch.testing.assert_close((subbands**2).mean(-1).sum(), (x**2).mean(), rtol=1e-12, atol=0)
    assert float(((gains * spec.abs()) ** 2).sum() * 2 / SR**2) == pytest.approx(float((x**2).mean()), rel=1e-12)


# --- gradients --------------------------------------------------------------------------------------


def test_gradcheck_float64_on_a_tiny_input():
    torch.manual_seed(0)
    coch = Cochleagram(800, n_bands=2, low_hz=50.0, high_hz=400.0, sample_factor=2, grad_clip=math.inf)
    x = torch.randn(2, 40, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda w: coch(w), (x,), eps=1e-6, atol=1e-6, rtol=1e-4)


def test_gradient_of_silence_is_finite_and_compression_slope_is_clipped():
    x = torch.zeros(2, 1600, requires_grad=True)
    Cochleagram(SR).forward(x).sum().backward()
    assert torch.isfinite(x.grad).all()
    # the compression itself: slope 0.3 e^-0.7, infinite at 0, is min(., clip); 0 below 0
    e = torch.tensor([-1.0, 0.0, 1e-6, 0.05, 1.0], dtype=torch.float64, requires_grad=True)
    y = _ClippedPower.apply(e, 0.3, 5.0)
    torch.testing.assert_close(y.detach(), torch.tensor([0.0, 0.0, 1e-6**0.3, 0.05**0.3, 1.0], dtype=torch.float64))
    (grad,) = torch.autograd.grad(y.sum(), e)
    exact = 0.3 * torch.tensor([1e-6, 0.05, 1.0], dtype=torch.float64) ** -0.7
    torch.testing.assert_close(grad, torch.stack([torch.tensor(0.0, dtype=torch.float64), torch.tensor(5.0, dtype=torch.float64),
                                                  torch.tensor(5.0, dtype=torch.float64), exact[1], exact[2]]))
    assert float(exact[1]) < 5 and float(exact[0]) > 5  # the clip bites below e ~ 0.018 only


def test_gradient_reaches_the_waveform_and_is_float32_friendly():
    x = (0.1 * torch.randn(3, SR)).requires_grad_()
    y = Cochleagram(SR)(x)
    y[:, :, 40:60].mean().backward()
    assert torch.isfinite(x.grad).all() and float(x.grad.abs().max()) > 0


# --- batching, shapes, dtype and device ---------------------------------------------------------------


def test_batch_rows_are_independent_and_channel_dim_is_optional():
    torch.manual_seed(2)
    x = 0.1 * torch.randn(4, 4000, dtype=torch.float64)
    coch = Cochleagram(SR)
    out = coch(x)
    assert out.shape == (4, 1, 105, 50)
    for i in range(4):
        torch.testing.assert_close(coch(x[i : i + 1]), out[i : i + 1], rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(coch(x[:, None]), out, rtol=0, atol=0)
    torch.testing.assert_close(coch(x.flip(0)), out.flip(0), rtol=1e-12, atol=1e-12)
    xg = x.clone().requires_grad_()
    (grad,) = torch.autograd.grad(coch(xg)[0].sum(), xg)
    assert torch.all(grad[1:] == 0) and torch.any(grad[0] != 0)


def test_dtype_follows_the_input_and_float32_matches_float64():
    torch.manual_seed(3)
    x = 0.1 * torch.randn(2, 8000, dtype=torch.float64)
    coch = Cochleagram(SR)
    out64 = coch(x)
    out32 = coch(x.float())
    assert out64.dtype == torch.float64 and out32.dtype == torch.float32
    assert coch.filters.dtype == torch.float32  # buffers follow the last input
    # float32 FFTs of length n round to ~eps32 * log2(n) of the signal's scale; compression with
    # power 0.3 amplifies relative errors of small envelopes, so compare before compression
    lin64 = Cochleagram(SR, power=1.0)(x)
    lin32 = Cochleagram(SR, power=1.0)(x.float()).double()
    assert float((lin32 - lin64).abs().max()) < 64 * EPS32 * math.log2(8000) * float(lin64.abs().max())


def test_functional_equals_module_and_buffers_are_not_state():
    torch.manual_seed(4)
    x = 0.1 * torch.randn(2, 3200)
    coch = Cochleagram(SR, n_samples=3200, sample_factor=1, n_bands=20)
    assert coch.filters.numel() > 0  # built at construction
    assert coch.state_dict() == {}  # filters are rebuilt, never saved
    torch.testing.assert_close(cochleagram(x, SR, sample_factor=1, n_bands=20), coch(x), rtol=0, atol=0)
    torch.testing.assert_close(cochleagram(x.numpy(), SR, sample_factor=1, n_bands=20), coch(x), rtol=0, atol=0)
    assert "n_channels=22" in repr(coch)  # 1 * (20 + 3) - 1


@pytest.mark.gpu
def test_cuda_matches_cpu():
    x = 0.1 * torch.randn(4, SR)
    coch = Cochleagram(SR)
    cpu = coch(x)
    gpu = coch(x.cuda())
    assert gpu.device.type == "cuda" and coch.filters.device.type == "cuda"
    torch.testing.assert_close(gpu.cpu(), cpu, rtol=1e-4, atol=1e-5)
    xg = x.cuda().requires_grad_()
    coch(xg).sum().backward()
    assert torch.isfinite(xg.grad).all()


# --- errors -------------------------------------------------------------------------------------------


def test_bad_waveforms_are_refused_with_useful_messages():
    coch = Cochleagram(SR)
    with pytest.raises(ValueError, match=r"built for sr=16000 Hz but got a waveform at sr=22050"):
        coch(torch.zeros(1, 100), sr=22050)
    with pytest.raises(ValueError, match=r"\(batch, samples\) or \(batch, 1, samples\).*x\[None\]"):
        coch(torch.zeros(100))
    with pytest.raises(ValueError, match=r"Got shape \(1, 2, 100\)"):
        coch(torch.zeros(1, 2, 100))
    with pytest.raises(TypeError, match=r"float32 or float64.*torch.int16"):
        coch(torch.zeros(1, 100, dtype=torch.int16))
    with pytest.raises(ValueError, match="NaN or inf"):
        coch(torch.full((1, 100), float("nan")))
    with pytest.raises(ValueError, match="at least 2 samples"):
        coch(torch.zeros(1, 1))


def test_bad_settings_are_refused_with_useful_messages():
    with pytest.raises(ValueError, match=r"sr / env_sr must be an integer.*22050"):
        Cochleagram(22050)
    with pytest.raises(ValueError, match=r"above the Nyquist frequency.*8000"):
        Cochleagram(SR, high_hz=10000.0)
    with pytest.raises(ValueError, match="low_hz < high_hz"):
        Cochleagram(SR, low_hz=5000.0, high_hz=4000.0)
    with pytest.raises(ValueError, match="n_bands must be an integer >= 1"):
        Cochleagram(SR, n_bands=0)
    with pytest.raises(ValueError, match="sample_factor must be an integer >= 1"):
        Cochleagram(SR, sample_factor=1.5)
    with pytest.raises(ValueError, match="power must be a positive"):
        Cochleagram(SR, power=0)
    with pytest.raises(ValueError, match="grad_clip must be a positive"):
        Cochleagram(SR, grad_clip=-1)
    with pytest.raises(ValueError, match="env_sr must be a positive"):
        Cochleagram(SR, env_sr=0)
    with pytest.raises(ValueError, match="sampling rate sr must be a positive"):
        Cochleagram(-5)
    with pytest.raises(ValueError, match="envelope_decimation must be None or an integer"):
        Cochleagram(SR, envelope_decimation=0)
    with pytest.raises(ValueError, match=r"must divide sr/env_sr = 80"):
        Cochleagram(SR, envelope_decimation=3)(torch.zeros(1, 160))
    with pytest.raises(ValueError, match="n >= 2"):
        erb_space(100.0, 200.0, 1)
    with pytest.raises(ValueError, match="n_samples >= 2"):
        half_cosine_filterbank(1, SR)
    with pytest.raises(ValueError, match="n_samples must be an integer >= 2"):
        Cochleagram(SR).plan(1.5)


# --- plotting -----------------------------------------------------------------------------------------


def test_plot_cochleagram_draws_time_in_seconds_and_frequency_labels():
    pytest.importorskip("matplotlib")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from neurocompare.audio import plot_cochleagram

    coch = Cochleagram(SR, n_bands=10, sample_factor=1)
    out = coch(tone(1000, n=8000, dtype=torch.float32)[None])
    fig = plot_cochleagram(out[0], centre_freqs=coch.centre_freqs, title="1 kHz")
    ax = fig.axes[0]
    image = ax.get_images()[0]
    np.testing.assert_allclose(image.get_array(), out[0, 0].numpy())
    assert image.get_extent()[:2] == [0.0, 0.5]  # 0.5 s: 100 frames at 200 Hz
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert labels[0] == f"{coch.centre_freqs[0]:.0f}" and labels[-1] == f"{coch.centre_freqs[-1]:.0f}"
    assert ax.get_title() == "1 kHz"
    plt.close(fig)
    with pytest.raises(ValueError, match=r"pick one clip, e.g. cgram\[i\]"):
        plot_cochleagram(torch.zeros(2, 1, 12, 40))
    with pytest.raises(ValueError, match="one centre frequency per channel: got 3 for 12"):
        plot_cochleagram(torch.zeros(12, 40), centre_freqs=[1, 2, 3])
    with pytest.raises(ValueError, match="NaN or inf"):
        plot_cochleagram(np.full((12, 40), np.nan))
    with pytest.raises(ValueError, match="positive frame rate"):
        plot_cochleagram(np.zeros((12, 40)), env_sr=0)
