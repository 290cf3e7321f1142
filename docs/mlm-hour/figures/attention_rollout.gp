set terminal svg size 960,560 dynamic background rgb 'white' font 'sans,12'
set termoption noenhanced
set grid
set key outside right top
set output 'attention_rollout.svg'
set title 'Input positions reached through the stack (attention rollout through layers 1..l)'
set xlabel 'relative depth (layer / layers)'
set ylabel 'input positions'
set xrange [0:1.05]
plot 'data/attention_4L-4H.dat' using 1:5 with linespoints lc 1 title '4L-4H effective', 'data/attention_4L-4H.dat' using 1:6 with linespoints lc 1 dt 2 title '4L-4H carrying 90%', \
     'data/attention_16L-1H.dat' using 1:5 with linespoints lc 2 title '16L-1H effective', 'data/attention_16L-1H.dat' using 1:6 with linespoints lc 2 dt 2 title '16L-1H carrying 90%'
