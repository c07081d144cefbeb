"""The pages people use: cases, tasks, processes, audit, reports, notices and administration, with their forms."""
