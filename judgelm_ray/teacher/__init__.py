"""The teacher step: a strong judge labels answer pairs, and the labels become a training set.

JudgeLM-100K was made this way: GPT-4 judged answer pairs once without and once with the reference
answer, and both judgments were kept. Here each of those two passes is an ordinary judge run
(`passes`: JudgeLM's pairwise template, full explanations, no swap), so the teacher gets the judge
job's quarantine, resume (each pair judged once across interruptions), API engine and accounting;
`records` turns the two runs' judgments into JudgeLM-format records that `train` reads. The judge
runs are started by `judgelm_ray.job`: this package never imports a job.
"""
