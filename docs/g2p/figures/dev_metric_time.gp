set terminal svg size 960,560 dynamic background rgb 'white' font 'sans,12'
set termoption noenhanced
set grid
set key outside right top
set output 'dev_metric_time.svg'
set title 'Dev WER (greedy) against wall time'
set xlabel 'minutes'
set ylabel 'dev WER'
plot 'data/3L-4H-post-ln-s1.dev.dat' using ($4/60):3 with linespoints title '3L-4H-post-ln-s1', \
     'data/3L-4H-post-ln-s2.dev.dat' using ($4/60):3 with linespoints title '3L-4H-post-ln-s2', \
     'data/3L-4H-post-ln-s3.dev.dat' using ($4/60):3 with linespoints title '3L-4H-post-ln-s3', \
     'data/3L-4H-pre-ln-s1.dev.dat' using ($4/60):3 with linespoints title '3L-4H-pre-ln-s1', \
     'data/3L-4H-pre-ln-s2.dev.dat' using ($4/60):3 with linespoints title '3L-4H-pre-ln-s2', \
     'data/3L-4H-pre-ln-s3.dev.dat' using ($4/60):3 with linespoints title '3L-4H-pre-ln-s3', \
     'data/3L-4H-admin-s1.dev.dat' using ($4/60):3 with linespoints title '3L-4H-admin-s1', \
     'data/3L-4H-admin-s2.dev.dat' using ($4/60):3 with linespoints title '3L-4H-admin-s2', \
     'data/3L-4H-admin-s3.dev.dat' using ($4/60):3 with linespoints title '3L-4H-admin-s3', \
     'data/6L-2H-post-ln-s1.dev.dat' using ($4/60):3 with linespoints title '6L-2H-post-ln-s1', \
     'data/6L-2H-post-ln-s2.dev.dat' using ($4/60):3 with linespoints title '6L-2H-post-ln-s2', \
     'data/6L-2H-post-ln-s3.dev.dat' using ($4/60):3 with linespoints title '6L-2H-post-ln-s3', \
     'data/6L-2H-pre-ln-s1.dev.dat' using ($4/60):3 with linespoints title '6L-2H-pre-ln-s1', \
     'data/6L-2H-pre-ln-s2.dev.dat' using ($4/60):3 with linespoints title '6L-2H-pre-ln-s2', \
     'data/6L-2H-pre-ln-s3.dev.dat' using ($4/60):3 with linespoints title '6L-2H-pre-ln-s3', \
     'data/6L-2H-admin-s1.dev.dat' using ($4/60):3 with linespoints title '6L-2H-admin-s1', \
     'data/6L-2H-admin-s2.dev.dat' using ($4/60):3 with linespoints title '6L-2H-admin-s2', \
     'data/6L-2H-admin-s3.dev.dat' using ($4/60):3 with linespoints title '6L-2H-admin-s3', \
     'data/12L-1H-post-ln-s1.dev.dat' using ($4/60):3 with linespoints title '12L-1H-post-ln-s1', \
     'data/12L-1H-post-ln-s2.dev.dat' using ($4/60):3 with linespoints title '12L-1H-post-ln-s2', \
     'data/12L-1H-post-ln-s3.dev.dat' using ($4/60):3 with linespoints title '12L-1H-post-ln-s3', \
     'data/12L-1H-pre-ln-s1.dev.dat' using ($4/60):3 with linespoints title '12L-1H-pre-ln-s1', \
     'data/12L-1H-pre-ln-s2.dev.dat' using ($4/60):3 with linespoints title '12L-1H-pre-ln-s2', \
     'data/12L-1H-pre-ln-s3.dev.dat' using ($4/60):3 with linespoints title '12L-1H-pre-ln-s3', \
     'data/12L-1H-admin-s1.dev.dat' using ($4/60):3 with linespoints title '12L-1H-admin-s1', \
     'data/12L-1H-admin-s2.dev.dat' using ($4/60):3 with linespoints title '12L-1H-admin-s2', \
     'data/12L-1H-admin-s3.dev.dat' using ($4/60):3 with linespoints title '12L-1H-admin-s3'
