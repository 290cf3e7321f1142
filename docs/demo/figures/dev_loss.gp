set terminal svg size 960,560 dynamic background rgb 'white' font 'sans,12'
set termoption noenhanced
set grid
set key outside right top
set output 'dev_loss.svg'
set title 'Dev loss against updates'
set xlabel 'update'
set ylabel 'dev loss (label-smoothed, nats per token)'
plot 'data/3L-4H-post-ln-s1.dev.dat' using 1:2 with linespoints title '3L-4H-post-ln-s1', \
     'data/3L-4H-admin-s1.dev.dat' using 1:2 with linespoints title '3L-4H-admin-s1', \
     'data/12L-1H-post-ln-s1.dev.dat' using 1:2 with linespoints title '12L-1H-post-ln-s1', \
     'data/12L-1H-admin-s1.dev.dat' using 1:2 with linespoints title '12L-1H-admin-s1'
