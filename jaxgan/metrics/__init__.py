"""Offline quality metrics: Frechet distance, the classifier-based GAN and domain-translation evaluations,
L1 / PSNR / SSIM."""
