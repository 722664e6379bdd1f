"""framework-ptycho: Ptychographic reconstruction: physics-informed network, ePIE baseline, dose x overlap study."""
