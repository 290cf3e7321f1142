set terminal svg size 960,560 dynamic background rgb 'white' font 'sans,12'
set termoption noenhanced
set grid
set key outside right top
set output 'inference_speed.svg'
set title 'Encoding speed'
set xlabel 'batch size'
set ylabel 'input tokens per second'
set logscale xy
plot 'data/inference_1H_len16.dat' using 1:2 with linespoints title '8L-1H length 16', 'data/inference_1H_len64.dat' using 1:2 with linespoints title '8L-1H length 64', 'data/inference_4H_len16.dat' using 1:2 with linespoints title '2L-4H length 16', 'data/inference_4H_len64.dat' using 1:2 with linespoints title '2L-4H length 64'
