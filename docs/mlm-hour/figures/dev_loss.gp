set terminal svg size 960,560 dynamic background rgb 'white' font 'sans,12'
set termoption noenhanced
set grid
set key outside right top
set output 'dev_loss.svg'
set title 'Dev loss against updates'
set xlabel 'update'
set ylabel 'dev loss (as the task trains it, nats per token)'
plot 'data/4L-4H-admin-s1.dev.dat' using 1:2 with linespoints lc 1 dt 1 pt 5 title '4L-4H admin', \
     'data/16L-1H-admin-s1.dev.dat' using 1:2 with linespoints lc 1 dt 2 pt 7 title '16L-1H admin'
