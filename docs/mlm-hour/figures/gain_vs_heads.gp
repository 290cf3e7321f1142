set terminal svg size 960,560 dynamic background rgb 'white' font 'sans,12'
set termoption noenhanced
set grid
set key outside right top
set output 'gain_vs_heads.svg'
set title 'Gain of the deeper model over the shallow one (test perplexity, same scheme; mean ± sd over seeds)'
set xlabel 'heads unrolled into depth (shallow heads / heads per layer)'
set ylabel 'perplexity points (shallow minus deep)'
set xzeroaxis
set logscale x 2
set xrange [0.9:4.6]
set xtics (1, 4)
plot 'data/gain_admin.dat' using 1:2:3 with yerrorlines title 'admin'
