"""Group buy (拼团): campaigns, groups that fill within a time limit, their members."""
