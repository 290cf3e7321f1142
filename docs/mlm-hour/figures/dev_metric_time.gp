set terminal svg size 960,560 dynamic background rgb 'white' font 'sans,12'
set termoption noenhanced
set grid
set key outside right top
set output 'dev_metric_time.svg'
set title 'Dev perplexity against wall time'
set xlabel 'minutes'
set ylabel 'dev perplexity'
plot 'data/4L-4H-admin-s1.dev.dat' using ($4/60):3 with linespoints lc 1 dt 1 pt 5 title '4L-4H admin', \
     'data/16L-1H-admin-s1.dev.dat' using ($4/60):3 with linespoints lc 1 dt 2 pt 7 title '16L-1H admin'
