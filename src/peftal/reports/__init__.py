"""Reports: tables and plots drawn from analysis output."""
