"""Offline quality metrics: Frechet distance, classifier-based evaluation (FID/KID, PSNR/SSIM follow)."""
