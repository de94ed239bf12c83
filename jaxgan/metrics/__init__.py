"""Offline quality metrics: Frechet distance, the classifier-based GAN evaluation, L1 / PSNR / SSIM."""
