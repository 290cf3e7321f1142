set terminal svg size 960,560 dynamic background rgb 'white' font 'sans,12'
set termoption noenhanced
set grid
set key outside right top
set output 'attention_layers.svg'
set title 'Positions each layer attends (exp of the attention entropy; dashed: keys >= 0.1 of a head)'
set xlabel 'relative depth (layer / layers)'
set ylabel 'positions'
set xrange [0:1.05]
plot 'data/attention_4L-4H.dat' using 1:3 with linespoints lc 1 title '4L-4H per head', 'data/attention_4L-4H.dat' using 1:4 with linespoints lc 1 dt 2 title '4L-4H union of heads', \
     'data/attention_16L-1H.dat' using 1:3 with linespoints lc 2 title '16L-1H per head', 'data/attention_16L-1H.dat' using 1:4 with linespoints lc 2 dt 2 title '16L-1H union of heads'
