set terminal svg size 960,560 dynamic background rgb 'white' font 'sans,12'
set termoption noenhanced
set grid
set key outside right top
set output 'dev_loss.svg'
set title 'Dev loss against updates'
set xlabel 'update'
set ylabel 'dev loss (label-smoothed, nats per token)'
plot 'data/3L-4H-post-ln-s1.dev.dat' using 1:2 with linespoints lc 1 dt 1 pt 5 title '3L-4H post-ln (3 seeds)', \
     'data/3L-4H-post-ln-s2.dev.dat' using 1:2 with linespoints lc 1 dt 1 pt 5 notitle, \
     'data/3L-4H-post-ln-s3.dev.dat' using 1:2 with linespoints lc 1 dt 1 pt 5 notitle, \
     'data/3L-4H-pre-ln-s1.dev.dat' using 1:2 with linespoints lc 2 dt 1 pt 5 title '3L-4H pre-ln (3 seeds)', \
     'data/3L-4H-pre-ln-s2.dev.dat' using 1:2 with linespoints lc 2 dt 1 pt 5 notitle, \
     'data/3L-4H-pre-ln-s3.dev.dat' using 1:2 with linespoints lc 2 dt 1 pt 5 notitle, \
     'data/3L-4H-admin-s1.dev.dat' using 1:2 with linespoints lc 3 dt 1 pt 5 title '3L-4H admin (3 seeds)', \
     'data/3L-4H-admin-s2.dev.dat' using 1:2 with linespoints lc 3 dt 1 pt 5 notitle, \
     'data/3L-4H-admin-s3.dev.dat' using 1:2 with linespoints lc 3 dt 1 pt 5 notitle, \
     'data/6L-2H-post-ln-s1.dev.dat' using 1:2 with linespoints lc 1 dt 2 pt 7 title '6L-2H post-ln (3 seeds)', \
     'data/6L-2H-post-ln-s2.dev.dat' using 1:2 with linespoints lc 1 dt 2 pt 7 notitle, \
     'data/6L-2H-post-ln-s3.dev.dat' using 1:2 with linespoints lc 1 dt 2 pt 7 notitle, \
     'data/6L-2H-pre-ln-s1.dev.dat' using 1:2 with linespoints lc 2 dt 2 pt 7 title '6L-2H pre-ln (3 seeds)', \
     'data/6L-2H-pre-ln-s2.dev.dat' using 1:2 with linespoints lc 2 dt 2 pt 7 notitle, \
     'data/6L-2H-pre-ln-s3.dev.dat' using 1:2 with linespoints lc 2 dt 2 pt 7 notitle, \
     'data/6L-2H-admin-s1.dev.dat' using 1:2 with linespoints lc 3 dt 2 pt 7 title '6L-2H admin (3 seeds)', \
     'data/6L-2H-admin-s2.dev.dat' using 1:2 with linespoints lc 3 dt 2 pt 7 notitle, \
     'data/6L-2H-admin-s3.dev.dat' using 1:2 with linespoints lc 3 dt 2 pt 7 notitle, \
     'data/12L-1H-post-ln-s1.dev.dat' using 1:2 with linespoints lc 1 dt 3 pt 9 title '12L-1H post-ln (3 seeds)', \
     'data/12L-1H-post-ln-s2.dev.dat' using 1:2 with linespoints lc 1 dt 3 pt 9 notitle, \
     'data/12L-1H-post-ln-s3.dev.dat' using 1:2 with linespoints lc 1 dt 3 pt 9 notitle, \
     'data/12L-1H-pre-ln-s1.dev.dat' using 1:2 with linespoints lc 2 dt 3 pt 9 title '12L-1H pre-ln (3 seeds)', \
     'data/12L-1H-pre-ln-s2.dev.dat' using 1:2 with linespoints lc 2 dt 3 pt 9 notitle, \
     'data/12L-1H-pre-ln-s3.dev.dat' using 1:2 with linespoints lc 2 dt 3 pt 9 notitle, \
     'data/12L-1H-admin-s1.dev.dat' using 1:2 with linespoints lc 3 dt 3 pt 9 title '12L-1H admin (3 seeds)', \
     'data/12L-1H-admin-s2.dev.dat' using 1:2 with linespoints lc 3 dt 3 pt 9 notitle, \
     'data/12L-1H-admin-s3.dev.dat' using 1:2 with linespoints lc 3 dt 3 pt 9 notitle
